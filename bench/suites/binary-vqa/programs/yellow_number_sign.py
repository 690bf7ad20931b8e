def execute_command_yellow_number_sign(image, possible_answers, query, ImagePatch, VideoSegment, llm_query, bool_to_yesno, distance, best_image_match):
    # Answer is: yes or no
    # Question: Is there a yellow sign with a number on it?
    image_patch = ImagePatch(image)
    yellow_signs = image_patch.find("yellow sign")
    for sign_patch in yellow_signs:
        text = sign_patch.simple_query("What does the sign say?")
        if text.strip().isdigit():
            return "yes"
    if len(yellow_signs) == 0 and image_patch.exists("sign"):
        # The yellow may be washed out and the color filter too strict: check the
        # color of every sign, and read the ones that are yellow
        for sign_patch in image_patch.find("sign"):
            if sign_patch.verify_property("sign", "yellow"):
                number = sign_patch.simple_query("What number is on the sign?")
                if number.isdigit():
                    return "yes"
    return "no"
