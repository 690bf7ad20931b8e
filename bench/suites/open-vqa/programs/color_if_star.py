def execute_command(image, my_fig, time_wait_between_lines, syntax):
    # Question: If there is a star, what color is the square?
    # Answer with the square's color when there is a star, else "N/A".
    image_patch = ImagePatch(image)
    if not image_patch.exists("star"):
        return "N/A"
    square_patches = image_patch.find("square")
    if len(square_patches) == 0:
        return "N/A"
    return square_patches[0].simple_query("What color is the square?")
