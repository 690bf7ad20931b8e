def execute_command(image):
    # Question: Is the star bigger than the square?
    image_patch = ImagePatch(image)
    star_patches = image_patch.find("star")
    square_patches = image_patch.find("square")
    if len(star_patches) == 0 or len(square_patches) == 0:
        # the question needs both objects
        return "no"
    star_patch = star_patches[0]
    square_patch = square_patches[0]
    # compare the longest side of the two boxes
    star_size = max(star_patch.width, star_patch.height)
    square_size = max(square_patch.width, square_patch.height)
    return bool_to_yesno(star_size > square_size)
